-- Ingress rules added or removed, with port and CIDR from the request.
SELECT eventTime, eventName, userIdentity.userName AS "user",
       requestParameters['groupId'] AS groupId,
       json_extract_scalar(requestParameters['ipPermissions'], '$.items[0].fromPort') AS fromPort,
       json_extract_scalar(requestParameters['ipPermissions'], '$.items[0].ipRanges.items[0].cidrIp') AS cidr
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName IN ('AuthorizeSecurityGroupIngress', 'RevokeSecurityGroupIngress')
ORDER BY eventTime
