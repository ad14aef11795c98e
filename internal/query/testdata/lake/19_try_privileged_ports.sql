-- Ingress rules opening a privileged port; try() turns unparsable values into NULL.
SELECT requestParameters['groupId'] AS groupId,
       try(CAST(json_extract_scalar(requestParameters['ipPermissions'], '$.items[0].fromPort') AS integer)) AS port
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName = 'AuthorizeSecurityGroupIngress'
  AND try(CAST(json_extract_scalar(requestParameters['ipPermissions'], '$.items[0].fromPort') AS integer)) < 1024
