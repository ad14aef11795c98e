-- Principal names and accounts taken apart from their ARNs.
SELECT DISTINCT element_at(split(userIdentity.arn, ':'), 5) AS account,
       element_at(split(userIdentity.arn, '/'), -1) AS name,
       concat(eventSource, ':', eventName) AS action,
       lower(eventName) || '@' || upper(awsRegion) AS tag,
       strpos(userIdentity.arn, 'assumed-role') > 0 AS isRole,
       length(eventName) AS len
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName = 'CreateBucket' AND errorCode IS NULL
ORDER BY name
