variable "region" {
  description = "AWS region of the cluster, the bucket and the database."
  type        = string
}

variable "environment" {
  description = "Name of this installation (production, staging, ...); part of resource names."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.environment))
    error_message = "environment: 2-21 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "cluster_name" {
  description = "The existing EKS cluster Startales runs in."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace for the orchestrator, its GameServers and their pods."
  type        = string
  default     = "startales"
}

variable "database_subnet_ids" {
  description = "Private subnets (two or more availability zones) for the orchestrator's Postgres."
  type        = list(string)

  validation {
    condition     = length(var.database_subnet_ids) >= 2
    error_message = "database_subnet_ids: RDS needs subnets in at least two availability zones."
  }
}

variable "database_instance_class" {
  description = "RDS instance class of the orchestrator's Postgres."
  type        = string
  default     = "db.t4g.medium"
}

variable "database_storage_gb" {
  description = "Allocated storage of the orchestrator's Postgres, GiB (grows automatically to four times this)."
  type        = number
  default     = 50

  validation {
    condition     = var.database_storage_gb >= 20 && var.database_storage_gb <= 16384
    error_message = "database_storage_gb: 20 to 16384."
  }
}

variable "snapshot_bucket" {
  description = "Name of the S3 bucket for game-server snapshots (globally unique)."
  type        = string
}

variable "snapshot_noncurrent_days" {
  description = "Days an overwritten or deleted snapshot object is kept before S3 removes it (game servers prune by their own retention)."
  type        = number
  default     = 30
}

variable "orchestrator_image" {
  description = "The orchestrator's container image."
  type        = string
}

variable "game_server_image" {
  description = "The game server's container image."
  type        = string
}

variable "orchestrator_replicas" {
  description = "Orchestrator replicas (all serve the API; one at a time reconciles)."
  type        = number
  default     = 2
}

variable "warm_servers" {
  description = "Warm game servers kept started for campaigns about to begin."
  type        = number
  default     = 2

  validation {
    condition     = var.warm_servers >= 0 && var.warm_servers <= 1000
    error_message = "warm_servers: 0 to 1000."
  }
}

variable "game_server_cpu" {
  description = "CPU each game server requests."
  type        = string
  default     = "100m"
}

variable "game_server_memory" {
  description = "Memory each game server requests."
  type        = string
  default     = "64Mi"
}

variable "game_server_memory_limit" {
  description = "Memory each game server may use at most."
  type        = string
  default     = "256Mi"
}

variable "join_key" {
  description = "The join-token signing key every orchestrator replica shares: the hex after STARTALES_JOIN_KEY= that `orchestrator join-key` prints."
  type        = string
  sensitive   = true
}

variable "join_public_key" {
  description = "Its public key, given to game servers: what follows joinPublicKey= in the output of `orchestrator join-key`."
  type        = string
}

variable "public_url" {
  description = "Where players reach the orchestrator, e.g. https://play.example.com (Stripe Checkout sends them back here)."
  type        = string
}

variable "stripe_secret_key" {
  description = "Stripe secret key; empty for the test-mode payment provider (no real money)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "stripe_webhook_secret" {
  description = "Stripe webhook signing secret(s), one per line while rotating; required with a secret key."
  type        = string
  default     = ""
  sensitive   = true
}
