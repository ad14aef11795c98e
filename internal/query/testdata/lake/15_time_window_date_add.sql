-- Events in the two hours before a point in time.
SELECT eventName, count(*) AS n
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventTime BETWEEN date_add('hour', -2, timestamp '2026-03-01 14:00:00') AND timestamp '2026-03-01 14:00:00'
GROUP BY eventName
ORDER BY eventName
