-- Bucket policies that allow everyone.
SELECT requestParameters['bucketName'] AS bucket,
       json_array_length(json_extract(requestParameters['bucketPolicy'], '$.Statement')) AS statements,
       json_extract_scalar(requestParameters['bucketPolicy'], '$.Statement[0].Principal') AS principal,
       json_extract_scalar(requestParameters['bucketPolicy'], '$.Statement[0].Action') AS action
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName = 'PutBucketPolicy'
  AND json_extract_scalar(requestParameters['bucketPolicy'], '$.Statement[0].Principal') = '*'
