-- Role sessions with MFA, and the role behind them.
SELECT userIdentity.sessionContext.sessionIssuer.arn AS role,
       userIdentity.sessionContext.attributes.mfaAuthenticated AS mfa,
       count(*) AS calls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
WHERE userIdentity.type = 'AssumedRole'
GROUP BY 1, 2
ORDER BY calls DESC, role
