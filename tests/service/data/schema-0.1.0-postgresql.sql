-- The schema of actas-ocr 0.1.0 as `Base.metadata.create_all` made it on postgresql (before migrations).
-- Kept to test that 0001_initial is this schema and that such a database upgrades with nothing lost.

CREATE TABLE api_keys (
	id SERIAL NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	prefix VARCHAR(16) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	revoked_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	UNIQUE (key_hash)
);

CREATE TABLE blobs (
	sha256 VARCHAR(64) NOT NULL, 
	media_type VARCHAR(32) NOT NULL, 
	size INTEGER NOT NULL, 
	data BYTEA NOT NULL, 
	PRIMARY KEY (sha256)
);

CREATE TABLE mesas (
	code VARCHAR(32) NOT NULL, 
	scans INTEGER NOT NULL, 
	PRIMARY KEY (code)
);

CREATE TABLE actas (
	id VARCHAR(64) NOT NULL, 
	mesa_code VARCHAR(32), 
	template VARCHAR(64) NOT NULL, 
	variant VARCHAR(32) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	machine_needs_review BOOLEAN NOT NULL, 
	needs_review BOOLEAN NOT NULL, 
	reading JSONB NOT NULL, 
	blob_sha256 VARCHAR(64) NOT NULL, 
	uploaded_by VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(blob_sha256) REFERENCES blobs (sha256)
);

CREATE INDEX ix_actas_created_at ON actas (created_at);

CREATE INDEX ix_actas_mesa_code ON actas (mesa_code);

CREATE INDEX ix_actas_mesa_status ON actas (mesa_code, status);

CREATE INDEX ix_actas_needs_review ON actas (needs_review);

CREATE INDEX ix_actas_status ON actas (status);

CREATE INDEX ix_actas_template ON actas (template);

CREATE TABLE acta_fields (
	acta_id VARCHAR(64) NOT NULL, 
	name VARCHAR(96) NOT NULL, 
	position INTEGER NOT NULL, 
	section VARCHAR(32) NOT NULL, 
	key VARCHAR(64) NOT NULL, 
	machine_value INTEGER, 
	machine_needs_review BOOLEAN NOT NULL, 
	reviewed BOOLEAN NOT NULL, 
	reviewed_value INTEGER, 
	waiting BOOLEAN NOT NULL, 
	PRIMARY KEY (acta_id, name), 
	FOREIGN KEY(acta_id) REFERENCES actas (id) ON DELETE CASCADE
);

CREATE TABLE reviews (
	id SERIAL NOT NULL, 
	acta_id VARCHAR(64) NOT NULL, 
	reviewer VARCHAR(64) NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	field VARCHAR(96), 
	old_value INTEGER, 
	new_value INTEGER, 
	old_status VARCHAR(16), 
	new_status VARCHAR(16), 
	note TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(acta_id) REFERENCES actas (id)
);

CREATE INDEX ix_reviews_acta_id ON reviews (acta_id);
