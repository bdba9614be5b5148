/*
 * Compiled only into the scratch build of check-link-fail
 * (-DCONCORDAT_LINK_PROBE=policy): a throw-away call from a library into
 * LMDB and ZeroMQ, which it does not declare. Its link-alone executable must
 * then fail to link, naming both symbols; that proves the check can fail.
 * The declarations are written out so that no header is needed.
 */
struct MDB_env;
int mdb_env_create(struct MDB_env **env);
void *zmq_ctx_new(void);
int concordat_probe_undeclared(void);

int
concordat_probe_undeclared(void)
{
	struct MDB_env *env = 0;

	return mdb_env_create(&env) + (zmq_ctx_new() != 0);
}
