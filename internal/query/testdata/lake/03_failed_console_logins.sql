-- Failed console sign-ins by principal and source IP.
SELECT userIdentity.userName, sourceIPAddress, count(*) AS failures
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventSource = 'signin.amazonaws.com'
  AND eventName = 'ConsoleLogin'
  AND errorMessage = 'Failed authentication'
GROUP BY userIdentity.userName, sourceIPAddress
