locals {
  name = "startales-${var.environment}"
}

# --- Snapshots -------------------------------------------------------------

resource "aws_s3_bucket" "snapshots" {
  bucket = var.snapshot_bucket
}

resource "aws_s3_bucket_versioning" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "snapshots" {
  bucket                  = aws_s3_bucket.snapshots.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id

  rule {
    id     = "expire-replaced-snapshots"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.snapshot_noncurrent_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}

# Game servers reach the bucket with their own key, read from the
# `startales-snapshots` Secret; it may touch nothing else.
resource "aws_iam_user" "game_servers" {
  name = "${local.name}-game-servers"
}

data "aws_iam_policy_document" "snapshots" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.snapshots.arn]
  }

  statement {
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.snapshots.arn}/*"]
  }
}

resource "aws_iam_user_policy" "snapshots" {
  name   = "snapshots"
  user   = aws_iam_user.game_servers.name
  policy = data.aws_iam_policy_document.snapshots.json
}

resource "aws_iam_access_key" "game_servers" {
  user = aws_iam_user.game_servers.name
}

# --- The orchestrator's database -------------------------------------------

resource "random_password" "database" {
  length  = 40
  special = false
}

resource "aws_db_subnet_group" "orchestrator" {
  name       = local.name
  subnet_ids = var.database_subnet_ids
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "Postgres for the Startales orchestrator, reachable from the cluster only"
  vpc_id      = data.aws_eks_cluster.this.vpc_config[0].vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_cluster" {
  security_group_id            = aws_security_group.database.id
  referenced_security_group_id = data.aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "orchestrator pods"
}

resource "aws_db_instance" "orchestrator" {
  identifier                 = local.name
  engine                     = "postgres"
  engine_version             = "16"
  instance_class             = var.database_instance_class
  allocated_storage          = var.database_storage_gb
  max_allocated_storage      = var.database_storage_gb * 4
  storage_type               = "gp3"
  storage_encrypted          = true
  db_name                    = "startales"
  username                   = "startales"
  password                   = random_password.database.result
  db_subnet_group_name       = aws_db_subnet_group.orchestrator.name
  vpc_security_group_ids     = [aws_security_group.database.id]
  multi_az                   = var.environment == "production"
  backup_retention_period    = 14
  deletion_protection        = true
  skip_final_snapshot        = false
  final_snapshot_identifier  = "${local.name}-final"
  auto_minor_version_upgrade = true
  apply_immediately          = false
}

# --- Kubernetes --------------------------------------------------------------

resource "kubernetes_namespace_v1" "startales" {
  metadata {
    name = var.namespace
  }
}

resource "random_password" "token_secret" {
  length  = 64
  special = false
}

resource "random_password" "game_server_admin" {
  length  = 48
  special = false
}

# Read by every orchestrator replica (envFrom): the database, the access
# token key, the shared join-token key, and Stripe when configured.
resource "kubernetes_secret_v1" "orchestrator" {
  metadata {
    name      = "startales-orchestrator"
    namespace = kubernetes_namespace_v1.startales.metadata[0].name
  }

  data = merge(
    {
      DATABASE_URL           = "postgres://startales:${random_password.database.result}@${aws_db_instance.orchestrator.endpoint}/startales?sslmode=require"
      STARTALES_TOKEN_SECRET = random_password.token_secret.result
      STARTALES_JOIN_KEY     = var.join_key
      STARTALES_PUBLIC_URL   = var.public_url
    },
    var.stripe_secret_key == "" ? {} : {
      STARTALES_STRIPE_SECRET_KEY     = var.stripe_secret_key
      STARTALES_STRIPE_WEBHOOK_SECRET = var.stripe_webhook_secret
    },
  )

  lifecycle {
    precondition {
      condition     = var.stripe_secret_key == "" || var.stripe_webhook_secret != ""
      error_message = "stripe_webhook_secret is required with stripe_secret_key: seats are confirmed only by verified webhooks."
    }
  }
}

# Read by game servers: the admin token the controller uses for status,
# snapshots and assignments, and the key that checks join tokens.
resource "kubernetes_secret_v1" "game_server" {
  metadata {
    name      = "startales-game-server"
    namespace = kubernetes_namespace_v1.startales.metadata[0].name
  }

  data = {
    adminToken    = random_password.game_server_admin.result
    joinPublicKey = var.join_public_key
  }
}

resource "kubernetes_secret_v1" "snapshots" {
  metadata {
    name      = "startales-snapshots"
    namespace = kubernetes_namespace_v1.startales.metadata[0].name
  }

  data = {
    accessKeyId     = aws_iam_access_key.game_servers.id
    secretAccessKey = aws_iam_access_key.game_servers.secret
  }
}

resource "helm_release" "startales" {
  name      = "startales"
  chart     = "${path.module}/../charts/startales"
  namespace = kubernetes_namespace_v1.startales.metadata[0].name

  values = [yamlencode({
    orchestrator = {
      image    = var.orchestrator_image
      replicas = var.orchestrator_replicas
    }
    gameServer = {
      image       = var.game_server_image
      cpu         = var.game_server_cpu
      memory      = var.game_server_memory
      memoryLimit = var.game_server_memory_limit
    }
    snapshots = {
      base              = "s3://${aws_s3_bucket.snapshots.bucket}/campaigns"
      credentialsSecret = kubernetes_secret_v1.snapshots.metadata[0].name
    }
    warmPool = {
      replicas = var.warm_servers
    }
  })]

  depends_on = [
    kubernetes_secret_v1.orchestrator,
    kubernetes_secret_v1.game_server,
  ]
}
