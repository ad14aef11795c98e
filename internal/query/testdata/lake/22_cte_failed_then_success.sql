-- Principals whose failed sign-in was followed by a successful one within 10 minutes.
WITH failed AS (
  SELECT userIdentity.arn AS arn, eventTime AS failedAt
  FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
  WHERE eventName = 'ConsoleLogin' AND element_at(responseElements, 'ConsoleLogin') = 'Failure'
), succeeded AS (
  SELECT userIdentity.arn AS arn, eventTime AS succeededAt
  FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
  WHERE eventName = 'ConsoleLogin' AND element_at(responseElements, 'ConsoleLogin') = 'Success'
)
SELECT f.arn, f.failedAt, s.succeededAt, date_diff('second', f.failedAt, s.succeededAt) AS secondsLater
FROM failed f
JOIN succeeded s ON f.arn = s.arn
WHERE s.succeededAt > f.failedAt AND s.succeededAt <= f.failedAt + interval '10' minute
