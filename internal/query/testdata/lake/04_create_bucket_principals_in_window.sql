-- Principals who created S3 buckets during two days.
SELECT DISTINCT userIdentity.principalId, userIdentity.arn
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName = 'CreateBucket'
  AND errorCode IS NULL
  AND eventTime >= from_iso8601_timestamp('2026-03-01T00:00:00Z')
  AND eventTime < date_add('day', 2, from_iso8601_timestamp('2026-03-01T00:00:00Z'))
ORDER BY userIdentity.arn
