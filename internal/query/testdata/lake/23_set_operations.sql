-- Principals who created a bucket and also changed public access (INTERSECT),
-- either (UNION), or only created one (EXCEPT).
SELECT 'both' AS kind, arn FROM (
  SELECT userIdentity.arn AS arn FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b WHERE eventName = 'CreateBucket' AND errorCode IS NULL
  INTERSECT
  SELECT userIdentity.arn FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b WHERE eventName IN ('PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketPolicy')
)
UNION ALL
SELECT 'either', arn FROM (
  SELECT userIdentity.arn AS arn FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b WHERE eventName = 'CreateBucket' AND errorCode IS NULL
  UNION
  SELECT userIdentity.arn FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b WHERE eventName IN ('PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketPolicy')
)
UNION ALL
SELECT 'createOnly', arn FROM (
  SELECT userIdentity.arn AS arn FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b WHERE eventName = 'CreateBucket' AND errorCode IS NULL
  EXCEPT
  SELECT userIdentity.arn FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b WHERE eventName IN ('PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketPolicy')
)
ORDER BY kind, arn
