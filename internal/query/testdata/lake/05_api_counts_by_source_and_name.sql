-- API call counts by service and action.
SELECT eventSource, eventName, COUNT(*) AS apiCount
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventTime > date_add('year', -100, now())
GROUP BY eventSource, eventName
ORDER BY apiCount DESC, eventSource, eventName
LIMIT 5
