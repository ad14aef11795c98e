-- Calls by day of the week (1 = Monday).
SELECT day_of_week(eventTime) AS dow, format_datetime(eventTime, 'EEEE') AS dayName, count(*) AS calls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
GROUP BY 1, 2
ORDER BY 1
