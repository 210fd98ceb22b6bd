/*
 * serve_worker.c - a worker thread of `nerd serve`: decode a Document, extract, encode the
 * Result, hand it back to the main thread (see serve.h for the message layout).
 *
 * Everything a document needs comes from the worker's arena (the decoded Document, the Result
 * being built, its packed bytes go straight into a ZeroMQ message), and the arena is reset before
 * the next document.  Each document takes a reference on the rule set current when it starts, so
 * a reload never changes the rules under a document.
 */
#include "serve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "codec.h"
#include "log.h"

nerd_rules_t *serve_rules_get(serve_rules_t *slot)
{
    pthread_mutex_lock(&slot->lock);
    nerd_rules_t *rules = nerd_rules_ref(slot->rules);
    pthread_mutex_unlock(&slot->lock);
    return rules;
}

void serve_rules_swap(serve_rules_t *slot, nerd_rules_t *rules)
{
    pthread_mutex_lock(&slot->lock);
    nerd_rules_t *old = slot->rules;
    slot->rules = rules;
    pthread_mutex_unlock(&slot->lock);
    nerd_rules_unref(&old);
}

size_t serve_reason_index(int code)
{
    if (code == CODEC_EDECODE)
        return 0;
    if (code == CODEC_ERULESET)
        return 10;
    if (code <= -1 && code >= -9)
        return (size_t)-code;
    return 11;
}

const char *serve_reason_name(size_t index)
{
    if (index == 0)
        return "decode";
    if (index == 10)
        return "rule_set";
    if (index >= 1 && index <= 9)
        return nerd_strerror_name(-(int)index);
    return "other";
}

/* What processing one document produced. */
typedef struct serve_outcome {
    int code;                       /* 0 or the error code */
    char why[256];                  /* the error sentence */
    const nerd_result_t *result;    /* when code == 0 */
    codec_result_meta_t meta;
} serve_outcome_t;

/* Does the Document's rule_set name the set we serve?  Empty always does. */
static int serve_rule_set_ok(const serve_worker_t *w, const char *wanted, const nerd_rules_t *rules)
{
    return wanted[0] == '\0' || strcmp(wanted, w->rules->name) == 0 ||
           strcmp(wanted, nerd_rules_version(rules)) == 0;
}

/* The sentence of an engine error: which limit was hit, and its value. */
static void serve_limit_text(const nerd_limits_t *limits, size_t len, int code, char *why,
                             size_t whylen)
{
    switch (code) {
    case NERD_EENTITIES:
        snprintf(why, whylen, "the document has more entities than the limit of %zu "
                 "(--max-entities)", limits->max_entities);
        break;
    case NERD_EMATCHLIMIT:
        snprintf(why, whylen, "a pattern hit the PCRE2 match limit (%" PRIu32 ") or depth "
                 "limit (%" PRIu32 "): a rule backtracks too much on this text",
                 limits->match_limit, limits->depth_limit);
        break;
    case NERD_ETIMEOUT:
        snprintf(why, whylen, "the document took longer than its time budget of %" PRIu64
                 " ms (--time-budget: %" PRIu32 " ms per MiB of text)",
                 nerd_limits_budget_ms(limits, len), limits->time_budget_ms);
        break;
    case NERD_ETOOBIG:
        snprintf(why, whylen, "the text is over the limit of %zu bytes (--max-bytes)",
                 limits->max_bytes);
        break;
    default:
        snprintf(why, whylen, "%s", nerd_strerror(code));
        break;
    }
}

/* Decodes, checks and extracts one document into out. */
static void serve_extract(serve_worker_t *w, const serve_job_t *job, zmq_msg_t *body,
                          const nerd_rules_t *rules, serve_outcome_t *out)
{
    codec_doc_t doc;
    out->why[0] = '\0';
    out->result = NULL;
    out->code = codec_decode_document(w->arena, zmq_msg_data(body), zmq_msg_size(body), &doc,
                                      out->why, sizeof out->why);
    memset(&out->meta, 0, sizeof out->meta);
    out->meta.document_id = doc.id;
    out->meta.rule_set_version = nerd_rules_version(rules);
    if (out->code != 0)
        return;
    out->meta.metadata = doc.metadata;
    out->meta.metadata_count = doc.metadata_count;
    size_t bad;
    if (job->frames != 1) {
        out->code = CODEC_EDECODE;
        snprintf(out->why, sizeof out->why,
                 "a Document is sent as one frame; this message had %" PRIu32, job->frames);
    } else if (!serve_rule_set_ok(w, doc.rule_set, rules)) {
        out->code = CODEC_ERULESET;
        snprintf(out->why, sizeof out->why, "rule set '%.64s' is not served here (this daemon "
                 "serves '%s', version %s)", doc.rule_set, w->rules->name,
                 nerd_rules_version(rules));
    } else if (w->limits.max_bytes > 0 && doc.text_len > w->limits.max_bytes) {
        out->code = NERD_ETOOBIG;
        snprintf(out->why, sizeof out->why, "the text is %zu bytes, over the limit of %zu "
                 "(--max-bytes)", doc.text_len, w->limits.max_bytes);
    } else if (nerd_utf8_check(doc.text, doc.text_len, &bad) != 0) {
        out->code = NERD_EUTF8;
        snprintf(out->why, sizeof out->why, "the text is not valid UTF-8 (at byte %zu)", bad);
    } else {
        out->code = nerd_extract(w->engine, rules, doc.text, doc.text_len, &w->limits,
                                 &out->result);
        if (out->code != 0)
            serve_limit_text(&w->limits, doc.text_len, out->code, out->why, sizeof out->why);
    }
}

/* Packs the Result of outcome into msg; on failure packs a bare "nomem" error instead. */
static void serve_encode(serve_worker_t *w, serve_outcome_t *outcome, zmq_msg_t *msg)
{
    Nerd__V1__Result *result =
        outcome->code == 0
            ? codec_result_build(w->arena, &outcome->meta, outcome->result)
            : codec_error_build(w->arena, &outcome->meta, outcome->code, outcome->why);
    size_t size = result != NULL ? nerd__v1__result__get_packed_size(result) : 0;
    if (result == NULL || zmq_msg_init_size(msg, size) != 0) {
        static char nomem_code[] = "nomem";
        static char nomem_text[] = "out of memory while encoding the result";
        Nerd__V1__Result bare;
        nerd__v1__result__init(&bare);
        bare.status = NERD__V1__RESULT__STATUS__ERROR;
        bare.error_code = nomem_code;
        bare.error = nomem_text;
        outcome->code = NERD_ENOMEM;
        result = &bare;
        size = nerd__v1__result__get_packed_size(result);
        zmq_msg_init_size(msg, size);
        nerd__v1__result__pack(result, zmq_msg_data(msg));
        return;
    }
    nerd__v1__result__pack(result, zmq_msg_data(msg));
}

/* Processes one job: body is the client's Document frame. */
static void serve_process(serve_worker_t *w, serve_job_t *job, zmq_msg_t *body,
                          zmq_msg_t *topic, zmq_msg_t *result)
{
    serve_outcome_t outcome;
    nerd_arena_reset(w->arena);
    nerd_rules_t *rules = serve_rules_get(w->rules);
    uint64_t start = serve_now_us();
    serve_extract(w, job, body, rules, &outcome);
    outcome.meta.processing_us = serve_now_us() - start;
    serve_encode(w, &outcome, result);
    nerd_rules_unref(&rules);

    char name[80];
    if (outcome.code == 0) {
        snprintf(name, sizeof name, "result");
        log_debug("worker %d: document '%.80s': %zu entities, %zu relations, %" PRIu64 " us",
                  w->index, outcome.meta.document_id, outcome.result->entity_count,
                  outcome.result->relation_count, outcome.meta.processing_us);
    } else {
        const char *reason = codec_error_name(outcome.code);
        snprintf(name, sizeof name, "error.%s", reason);
        log_ratelimited(LOG_LEVEL_WARN, reason, "document '%.80s': %s: %s",
                        outcome.meta.document_id != NULL ? outcome.meta.document_id : "",
                        reason,
                        outcome.why[0] != '\0' ? outcome.why : codec_error_text(outcome.code));
    }
    job->code = outcome.code;
    size_t len = strlen(name);
    zmq_msg_init_size(topic, len);
    memcpy(zmq_msg_data(topic), name, len);
}

static int serve_more(void *socket)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &len);
    return more;
}

/* Receives the frames after the job header: envelope into env[], the last into body. */
static int serve_recv_job(serve_worker_t *w, zmq_msg_t *env, size_t *env_count, zmq_msg_t *body)
{
    *env_count = 0;
    for (;;) {
        zmq_msg_init(body);
        if (zmq_msg_recv(body, w->work, 0) < 0)
            return -1;
        if (!zmq_msg_more(body))
            return 0;
        if (*env_count == SERVE_MAX_ENVELOPE) {
            /* The main thread never sends more; drop the frame rather than overflow. */
            zmq_msg_close(body);
            continue;
        }
        zmq_msg_init(&env[*env_count]);
        zmq_msg_move(&env[(*env_count)++], body);
        zmq_msg_close(body);
    }
}

/* Sends [job][env...][topic][result] to the main thread; the messages are consumed. */
static void serve_send_answer(serve_worker_t *w, serve_job_t *job, zmq_msg_t *env,
                              size_t env_count, zmq_msg_t *topic, zmq_msg_t *result)
{
    job->envelope = (uint32_t)env_count;
    zmq_send(w->done, job, sizeof *job, ZMQ_SNDMORE);
    for (size_t i = 0; i < env_count; i++)
        if (zmq_msg_send(&env[i], w->done, ZMQ_SNDMORE) < 0)
            zmq_msg_close(&env[i]);
    if (zmq_msg_send(topic, w->done, ZMQ_SNDMORE) < 0)
        zmq_msg_close(topic);
    if (zmq_msg_send(result, w->done, 0) < 0)
        zmq_msg_close(result);
}

void *serve_worker_run(void *arg)
{
    serve_worker_t *w = arg;
    zmq_msg_t env[SERVE_MAX_ENVELOPE];
    for (;;) {
        /* Normally nothing is queued by then; after a second signal, what is queued is dropped. */
        if (atomic_load(w->stop))
            break;
        /* Wake up now and then to notice the stop flag even if no STOP job reaches us. */
        zmq_pollitem_t item = { w->work, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll(&item, 1, 200);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0) {
            if (atomic_load(w->stop))
                break;
            continue;
        }
        serve_job_t job;
        int n = zmq_recv(w->work, &job, sizeof job, 0);
        if (n < 0)
            break;
        if (n == (int)sizeof job && job.kind != SERVE_JOB_STOP)
            atomic_fetch_add(w->started_jobs, 1);
        size_t env_count = 0;
        zmq_msg_t body, topic, result;
        if (n != (int)sizeof job || !serve_more(w->work)) {
            if (n == (int)sizeof job && job.kind == SERVE_JOB_STOP)
                break;
            continue;   /* not from our main thread: ignore */
        }
        if (serve_recv_job(w, env, &env_count, &body) != 0)
            break;
        serve_process(w, &job, &body, &topic, &result);
        zmq_msg_close(&body);
        serve_send_answer(w, &job, env, env_count, &topic, &result);
    }
    return NULL;
}
