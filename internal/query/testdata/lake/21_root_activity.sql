-- Everything the root user did.
SELECT eventTime, eventSource, eventName, sourceIPAddress
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE userIdentity.type = 'Root'
  AND userIdentity.invokedBy IS NULL
  AND eventType <> 'AwsServiceEvent'
ORDER BY eventTime
