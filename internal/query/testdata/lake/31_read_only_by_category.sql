-- Read and write calls by event category.
SELECT eventCategory, CAST(readOnly AS varchar) AS readOnly, count(*) AS calls
FROM 4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b
GROUP BY eventCategory, readOnly
ORDER BY eventCategory, readOnly
