-- Old run outcomes are pruned by age (the operator keeps 30 days).
CREATE INDEX training_results_finished_at ON training_results (finished_at);
