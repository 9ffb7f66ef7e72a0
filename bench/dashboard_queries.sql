-- The SQL behind the dashboard's pages, one query per endpoint, timed by bench/latency.py.
-- :'cohort' and :'participant' are set by latency.py (the largest cohort, and a participant
-- of it with events). Each block starts with "-- name: ENDPOINT".

-- name: goal_summary
SELECT * FROM koers.goal_summary(koers.today()) WHERE cohort = :'cohort';

-- name: gas_tscore_cohort
SELECT * FROM koers.gas_tscore_cohort(koers.today()) WHERE cohort = :'cohort';

-- name: before_during_cohort
SELECT * FROM koers.before_during_cohort(koers.today()) WHERE cohort = :'cohort';

-- name: support_intensity_cohort
SELECT * FROM koers.support_intensity(koers.today()) WHERE cohort = :'cohort' AND participant IS NULL;

-- name: cost_benefit_cohort
SELECT * FROM koers.cost_benefit_cohort(koers.today()) WHERE cohort = :'cohort';

-- name: data_quality
SELECT * FROM koers.data_quality WHERE month >= (date_trunc('month', koers.today()) - interval '12 months')::date ORDER BY source, month, event_type;

-- name: participant_month
SELECT * FROM koers.participant_month WHERE participant = :'participant' ORDER BY month;

-- name: goal_status_participant
SELECT * FROM koers.goal_status WHERE participant = :'participant' ORDER BY goal_ref;
