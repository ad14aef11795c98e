-- Successful console sign-ins that did not use MFA.
SELECT userIdentity.arn AS principal, sourceIPAddress, eventTime
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE eventName = 'ConsoleLogin'
  AND element_at(additionalEventData, 'MFAUsed') = 'No'
  AND element_at(responseElements, 'ConsoleLogin') = 'Success'
ORDER BY eventTime
