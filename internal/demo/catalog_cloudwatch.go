// The CloudWatch ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func describeAlarmsParams(g *gen) {
	g.open()
	if g.p[2]%2 == 0 {
		g.str("stateValue", "ALARM")
	} else {
		g.arr("alarmNames")
		g.elemStr(g.pick(1, alarms))
		g.closeArr()
	}
	g.num("maxRecords", 100)
	g.close()
}

func putMetricAlarmParams(g *gen) {
	g.open()
	g.str("alarmName", g.pick(1, alarms))
	g.str("metricName", "5XXError")
	g.str("namespace", "AWS/ApiGateway")
	g.str("statistic", "Sum")
	g.raw("dimensions", `[{"name":"ApiName","value":"orders"}]`)
	g.num("period", 60)
	g.num("evaluationPeriods", 5)
	g.float("threshold", 10)
	g.str("comparisonOperator", "GreaterThanThreshold")
	g.arr("alarmActions")
	g.elemStr("arn:aws:sns:" + g.reg.name + ":" + g.acct.id + ":alerts")
	g.closeArr()
	g.str("treatMissingData", "notBreaching")
	g.close()
}
