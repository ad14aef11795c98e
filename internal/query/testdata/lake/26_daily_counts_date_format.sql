-- Calls per day.
SELECT date_format(eventTime, '%Y-%m-%d') AS day, count(*) AS calls,
       day_of_year(min(eventTime)) AS doy, week_of_year(min(eventTime)) AS week, year_of_week(min(eventTime)) AS weekYear
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
GROUP BY 1
ORDER BY 1
