/*
 * A fixed pool of threads that decode and verify a batch of frames. The
 * caller hands out a batch and works on it too; a shared counter gives each
 * thread its next job, so no job is done twice and none waits behind a
 * slow one. libsodium is thread-safe once sodium_init has run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/verify.h"
#include "proto/envelope.h"

#define MAX_THREADS 7

struct verifier {
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	pthread_t threads[MAX_THREADS];
	unsigned n_threads;
	uint64_t generation; /* a new batch each time it grows */
	bool stop;
	struct verify_job *jobs;
	size_t n_jobs;
	struct wire_frame **spent;
	size_t n_spent;
	atomic_size_t next, next_spent;
	size_t finished; /* jobs done, under lock */
	unsigned active; /* workers inside drain, under lock */
};

static void
run_job(struct verify_job *j)
{
	const struct wire_envelope *e;

	if (j->refused)
		return;
	j->decode_rc =
	    wire_decode(j->buf, j->len, &j->f, j->why, sizeof(j->why));
	if (j->decode_rc != 0 || j->f->type != WIRE_SUBMIT || j->pk == NULL ||
	    j->decode_only)
		return;
	e = &j->f->u.submit;
	if (strcmp(e->m.sender, j->agency) != 0)
		return; /* step 2 rejects it; no point verifying */
	j->sig_rc = envelope_verify_signature(e, j->pk);
	if (j->sig_rc == 0)
		j->contents_rc =
		    envelope_verify_contents(e, j->why, sizeof(j->why));
	j->verified = true;
}

/*
 * Takes jobs of the batch jobs[0 .. n-1] until none is left; returns how
 * many this thread did. The batch is read under the lock by the caller.
 */
static size_t
drain(struct verifier *v, struct verify_job *jobs, size_t n)
{
	size_t did = 0, i;

	while ((i = atomic_fetch_add(&v->next_spent, 1)) < v->n_spent)
		wire_frame_free(v->spent[i]);
	while ((i = atomic_fetch_add(&v->next, 1)) < n) {
		run_job(&jobs[i]);
		did++;
	}
	return did;
}

static void *
worker(void *arg)
{
	struct verifier *v = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		while (!v->stop && v->generation == seen)
			pthread_cond_wait(&v->work, &v->lock);
		if (v->stop)
			break;
		seen = v->generation;
		/* Woken late, after verifier_wait saw the batch done: nothing
		 * of it is left, and the next batch may be starting. */
		if (v->jobs == NULL)
			continue;
		struct verify_job *jobs = v->jobs;
		size_t n = v->n_jobs;
		v->active++;
		pthread_mutex_unlock(&v->lock);
		size_t did = drain(v, jobs, n);
		pthread_mutex_lock(&v->lock);
		v->finished += did;
		v->active--;
		/* The waiter re-checks: a signal too many costs nothing, one
		 * too few (a worker late for a batch that is already done)
		 * would leave it waiting for good. */
		if (v->active == 0)
			pthread_cond_signal(&v->done);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

int
verifier_new(unsigned threads, struct verifier **out)
{
	struct verifier *v;

	*out = NULL;
	if (threads == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 1 ? (unsigned)(cpus - 1) : 0;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return ERROR_NOMEM;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->work, NULL);
	pthread_cond_init(&v->done, NULL);
	atomic_init(&v->next, 0);
	atomic_init(&v->next_spent, 0);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&v->threads[i], NULL, worker, v) != 0)
			break;
		pthread_setname_np(v->threads[i], "verify");
		v->n_threads++;
	}
	*out = v;
	return ERROR_OK;
}

void
verifier_free(struct verifier *v)
{
	if (v == NULL)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&v->lock);
	for (unsigned i = 0; i < v->n_threads; i++)
		pthread_join(v->threads[i], NULL);
	pthread_cond_destroy(&v->work);
	pthread_cond_destroy(&v->done);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

void
verifier_start(struct verifier *v, struct verify_job *jobs, size_t n,
    struct wire_frame **spent, size_t n_spent)
{
	if (v == NULL || v->n_threads == 0 || n == 0) {
		/* No pool, or no job: do it now; verifier_wait then has
		 * nothing to do, and may be left out (verify.h). */
		for (size_t i = 0; i < n_spent; i++)
			wire_frame_free(spent[i]);
		for (size_t i = 0; i < n; i++)
			run_job(&jobs[i]);
		return;
	}
	pthread_mutex_lock(&v->lock);
	v->jobs = jobs;
	v->n_jobs = n;
	v->spent = spent;
	v->n_spent = n_spent;
	v->finished = 0;
	atomic_store(&v->next_spent, 0);
	atomic_store(&v->next, 0);
	v->generation++;
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&v->lock);
}

void
verifier_wait(struct verifier *v)
{
	if (v == NULL || v->n_threads == 0)
		return;
	/* Help with what is left rather than wait idle. */
	size_t did = drain(v, v->jobs, v->n_jobs);

	pthread_mutex_lock(&v->lock);
	v->finished += did;
	/* Every job done and every worker out of drain: none can take an
	 * index of this batch's counter once the next batch resets it. */
	while (v->finished < v->n_jobs || v->active > 0)
		pthread_cond_wait(&v->done, &v->lock);
	v->jobs = NULL;
	v->n_jobs = 0;
	v->spent = NULL;
	v->n_spent = 0;
	v->finished = 0;
	pthread_mutex_unlock(&v->lock);
}
