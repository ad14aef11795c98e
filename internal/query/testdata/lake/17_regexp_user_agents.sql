-- Calls by SDK or tool, from the user agent.
SELECT regexp_extract(userAgent, '^([A-Za-z0-9-]+)/', 1) AS tool, count(*) AS calls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE regexp_like(userAgent, '^(aws-cli|Boto3)/')
GROUP BY 1
ORDER BY calls DESC
