-- Failed calls other than EC2 authorisation failures, with the later of two times.
SELECT eventName, errorCode, count(*) AS n,
       GREATEST(max(eventTime), timestamp '2026-03-01 18:00:00') AS laterOf,
       LEAST(min(eventTime), timestamp '2026-03-01 18:00:00') AS earlierOf
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE errorCode IS DISTINCT FROM 'Client.UnauthorizedOperation'
  AND errorCode IS NOT NULL
GROUP BY eventName, errorCode
ORDER BY n DESC, eventName
