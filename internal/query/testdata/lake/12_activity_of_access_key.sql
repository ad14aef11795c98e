-- What one access key was used for.
SELECT eventName, count(*) AS calls, min(eventTime) AS firstSeen, max(eventTime) AS lastSeen
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE userIdentity.accessKeyId = 'AKIABOB0000000000002'
GROUP BY eventName
ORDER BY calls DESC, eventName
