package awsapi

// The protocol identities of the AWS services opentrail serves beyond
// CloudTrail, for Router.Speak: the server configures its routers with
// them, and a service package's tests can make a test router speak as the
// server's does.

// CloudWatchProtocols is what CloudWatch (signing name monitoring)
// speaks: Smithy RPC v2 CBOR (botocore ≥ 1.40 and aws-sdk-go-v2 send it),
// AWS JSON 1.0 and the query protocol (AWS CLI v2 before 2.30, older
// SDKs), query-compatible. Operations return CloudWatch's query error
// codes (InvalidParameterValue, ResourceNotFound, …); JSON and CBOR
// errors carry the error shape's name as __type.
func CloudWatchProtocols() Protocols {
	return Protocols{
		JSON10:          true,
		Query:           &QuerySpec{Namespace: "http://monitoring.amazonaws.com/doc/2010-08-01/", Version: "2010-08-01"},
		CBOR:            &CBORSpec{ServiceShape: "GraniteServiceVersion20100801"},
		QueryCompatible: true,
		ErrorTypes: map[string]string{
			"AccessDenied":                "AccessDeniedException",
			"InvalidParameterInput":       "DashboardInvalidInputError",
			"InternalServiceError":        "InternalServiceFault",
			"InvalidFormat":               "InvalidFormatFault",
			"InvalidParameterCombination": "InvalidParameterCombinationException",
			"InvalidParameterValue":       "InvalidParameterValueException",
			"LimitExceeded":               "LimitExceededFault",
			"MissingParameter":            "MissingRequiredParameterException",
		},
	}
}

// SNSProtocols is what SNS (signing name sns) speaks: the query protocol
// only; a refused call is AuthorizationError (403), SNS's modeled error.
func SNSProtocols() Protocols {
	return Protocols{Query: &QuerySpec{Namespace: "http://sns.amazonaws.com/doc/2010-03-31/", Version: "2010-03-31",
		AccessDenied: "AuthorizationError"}}
}

// CloudWatch Logs (signing name logs) speaks AWS JSON 1.1 with target
// prefix Logs_20140328: NewRouter's default.
