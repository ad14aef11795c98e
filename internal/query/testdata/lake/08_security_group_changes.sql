-- Every change to security groups, by action and principal.
SELECT eventName, userIdentity.arn, count(*) AS changes
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventSource = 'ec2.amazonaws.com'
  AND eventName LIKE '%SecurityGroup%'
  AND eventName NOT LIKE 'Describe%'
GROUP BY eventName, userIdentity.arn
ORDER BY eventName, userIdentity.arn
