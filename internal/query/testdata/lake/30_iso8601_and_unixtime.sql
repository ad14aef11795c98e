-- Event times as ISO 8601 and Unix time, and back.
SELECT eventName, to_iso8601(eventTime) AS iso, to_unixtime(eventTime) AS unix,
       from_unixtime(to_unixtime(eventTime)) = eventTime AS roundTrip,
       CAST(eventTime AS varchar) AS asText
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName IN ('ListBuckets', 'TerminateInstances')
ORDER BY eventTime
