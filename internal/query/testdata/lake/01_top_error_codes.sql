-- Top error codes in a time window.
SELECT errorCode, COUNT(*) AS errorCount
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE errorCode IS NOT NULL
  AND eventTime > '2026-03-01 00:00:00' AND eventTime < '2026-03-06 00:00:00'
GROUP BY errorCode
ORDER BY errorCount DESC, errorCode
LIMIT 10
