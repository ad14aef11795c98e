package event

// The resources array: the parser's walk of it, and ParseResources for
// readers that hold only its text.

// resources walks the resources array at depth d.
func (p *parser) resources(d int) error {
	var a arrIter
	if err := p.openArray(&a, d); err != nil {
		return err
	}
	for {
		ok, err := p.nextElem(&a)
		if err != nil || !ok {
			return err
		}
		if p.at('{') {
			err = p.resource(d + 1)
		} else {
			err = p.objectMember(d, false)
		}
		if err != nil {
			return err
		}
	}
}

// resource walks one element of the resources array, at depth d.
func (p *parser) resource(d int) error {
	var o objIter
	if err := p.openObject(&o, d); err != nil {
		return err
	}
	var r resRef
	for {
		key, ok, err := p.nextKey(&o)
		if err != nil {
			return err
		}
		if !ok {
			p.res = append(p.res, r)
			return nil
		}
		switch string(key) {
		case "type":
			err = p.keepString(d, &r.typ, 0)
		case "ARN":
			err = p.keepString(d, &r.names[0], 0)
		case "ARNPrefix":
			err = p.keepString(d, &r.names[1], 0)
		case "resourceName":
			err = p.keepString(d, &r.names[2], 0)
		case "name":
			err = p.keepString(d, &r.names[3], 0)
		case "accountId":
			_, err = p.stringMember(d)
		default:
			_, err = p.value(d)
		}
		if err != nil {
			return err
		}
	}
}

// resourceList is the Resources of the elements the parser kept.
func (p *parser) resourceList(str func(strRef) string) []Resource {
	if len(p.res) == 0 {
		return nil
	}
	out := make([]Resource, len(p.res))
	for i, r := range p.res {
		var name strRef
		for _, n := range r.names {
			if n.n > 0 {
				name = n
				break
			}
		}
		out[i] = Resource{Type: str(r.typ), Name: str(name)}
	}
	return out
}

// ParseResources returns the Resources of a record whose resources member
// is text (its JSON value): what Record.Resources holds for that record.
// It returns nil for text that is not a well-formed JSON array, as for a
// record without one. The columnar tier keeps the member's text, and
// readers that need only the resources parse it with this.
func ParseResources(text []byte) []Resource {
	p := parsers.Get().(*parser)
	defer func() {
		p.release()
		parsers.Put(p)
	}()
	p.src = text
	p.out = make([]byte, 0, len(text))
	p.ws()
	if !p.at('[') {
		return nil
	}
	if err := p.resources(1); err != nil || p.end() != nil || p.verr != nil {
		return nil
	}
	blob := string(p.scratch)
	return p.resourceList(func(r strRef) string { return blob[r.off : r.off+r.n] })
}
