output "snapshot_bucket" {
  description = "The bucket game servers snapshot to."
  value       = aws_s3_bucket.snapshots.bucket
}

output "database_endpoint" {
  description = "The orchestrator's Postgres (host:port)."
  value       = aws_db_instance.orchestrator.endpoint
}

output "namespace" {
  description = "Where the orchestrator and its game servers run."
  value       = kubernetes_namespace_v1.startales.metadata[0].name
}

output "webhook_url" {
  description = "Point a Stripe webhook endpoint here."
  value       = "${trimsuffix(var.public_url, "/")}/api/v1/billing/stripe/webhook"
}
