// The Organizations ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func maxResultsParams(g *gen) {
	g.open()
	g.num("maxResults", 20)
	g.close()
}
