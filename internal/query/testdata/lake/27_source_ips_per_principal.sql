-- Source IPs each principal called from.
SELECT userIdentity.arn,
       array_sort(array_agg(DISTINCT sourceIPAddress)) AS ips,
       cardinality(array_distinct(array_agg(sourceIPAddress))) AS distinctIps,
       arbitrary(userIdentity.type) AS type
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
GROUP BY userIdentity.arn
HAVING cardinality(array_distinct(array_agg(sourceIPAddress))) > 1
ORDER BY userIdentity.arn
