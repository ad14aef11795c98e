-- Changes to S3 public access settings.
SELECT eventTime, eventName, requestParameters['bucketName'] AS bucket, userIdentity.userName,
       json_extract_scalar(requestParameters['PublicAccessBlockConfiguration'], '$.BlockPublicAcls') AS blockPublicAcls,
       json_array_contains(requestParameters['x-amz-acl'], 'public-read') AS publicReadAcl
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventSource = 's3.amazonaws.com'
  AND eventName IN ('PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketPolicy', 'PutBucketAcl')
ORDER BY eventTime
