-- Distinct source IPs and calls per region (approx_distinct estimates;
-- count(DISTINCT) is exact).
SELECT awsRegion, approx_distinct(sourceIPAddress) AS approxSourceIps,
       count(DISTINCT sourceIPAddress) AS sourceIps, count(*) AS calls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
GROUP BY awsRegion
ORDER BY calls DESC
