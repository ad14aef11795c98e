-- Who still calls with TLS 1.0 or 1.1.
SELECT eventSource, userIdentity.arn, userAgent, tlsDetails.tlsVersion, COUNT(*) AS numOutdatedTlsCalls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE tlsDetails.tlsVersion IN ('TLSv1', 'TLSv1.1')
GROUP BY eventSource, userIdentity.arn, userAgent, tlsDetails.tlsVersion
ORDER BY numOutdatedTlsCalls DESC
