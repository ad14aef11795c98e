-- Calls into this account made by principals of other accounts.
SELECT userIdentity.accountId AS callerAccount, recipientAccountId, eventName, COUNT(*) AS calls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE userIdentity.accountId <> recipientAccountId
GROUP BY 1, 2, 3
ORDER BY eventName
