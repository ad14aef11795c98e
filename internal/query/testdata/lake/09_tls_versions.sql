-- Calls by TLS version.
SELECT tlsDetails.tlsVersion AS tlsVersion, COUNT(*) AS calls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE tlsDetails.tlsVersion IS NOT NULL
GROUP BY tlsDetails.tlsVersion
ORDER BY tlsVersion
