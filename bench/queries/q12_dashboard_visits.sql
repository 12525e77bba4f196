-- Measures: a dashboard aggregate on one source (health visits in a CSV file): visits, cost and date range per diagnosis.
-- Shape: single source, 1.1M CSV rows read and grouped into a few dozen; the peer reads the file through file_fdw.
SELECT diagnosis_code, COUNT(*) AS visits, SUM(cost) AS total_cost,
       MIN(visit_date) AS first_visit, MAX(visit_date) AS last_visit
FROM yte.visits
GROUP BY diagnosis_code;
