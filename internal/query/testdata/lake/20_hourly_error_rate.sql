-- Error rate per hour.
SELECT date_trunc('hour', eventTime) AS hour,
       count(*) AS calls,
       count_if(errorCode IS NOT NULL) AS errors,
       round(100.0 * count_if(errorCode IS NOT NULL) / count(*), 1) AS errorPercent
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventTime >= timestamp '2026-03-01 18:00:00' AND eventTime < timestamp '2026-03-01 21:00:00'
GROUP BY 1
ORDER BY 1
