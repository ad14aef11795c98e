-- Access keys created, deactivated and deleted.
SELECT eventTime, eventName, userIdentity.arn AS actor,
       requestParameters['userName'] AS forUser,
       coalesce(requestParameters['accessKeyId'], json_extract_scalar(responseElements['accessKey'], '$.accessKeyId')) AS accessKeyId,
       coalesce(requestParameters['status'], json_extract_scalar(responseElements['accessKey'], '$.status')) AS status
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventSource = 'iam.amazonaws.com'
  AND eventName IN ('CreateAccessKey', 'UpdateAccessKey', 'DeleteAccessKey')
ORDER BY eventTime
