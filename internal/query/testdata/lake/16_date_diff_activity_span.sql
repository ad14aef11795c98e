-- How long each principal was active, in minutes.
SELECT userIdentity.arn, min(eventTime) AS firstEvent, max(eventTime) AS lastEvent,
       date_diff('minute', min(eventTime), max(eventTime)) AS activeMinutes
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE userIdentity.type = 'IAMUser'
GROUP BY userIdentity.arn
ORDER BY activeMinutes DESC
