-- Events naming more than one resource.
SELECT eventName, cardinality(resources) AS resourceCount,
       element_at(resources, 1).ARN AS firstResource,
       element_at(resources, -1).type AS lastResourceType
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE cardinality(resources) > 1
ORDER BY eventTime
