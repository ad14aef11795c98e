-- Instances terminated, from the request's JSON.
SELECT eventTime, userIdentity.sessionContext.sessionIssuer.userName AS role,
       json_array_length(json_extract(requestParameters['instancesSet'], '$.items')) AS instances,
       json_extract_scalar(requestParameters['instancesSet'], '$.items[0].instanceId') AS firstInstance,
       json_format(json_array_get(json_extract(requestParameters['instancesSet'], '$.items'), -1)) AS lastItem,
       is_json_scalar(json_extract(requestParameters['instancesSet'], '$.items[1].instanceId')) AS idIsScalar
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName = 'TerminateInstances'
