/*
 * echoservice: a native Nex service. It connects to the NATS server named by NATS_URL (the node
 * sets it to its own server unless the deploy request does) and answers every request on the
 * subject given as its first argument (default "echo") with the request's own payload.
 *
 * Build: examples/build.sh (needs gcc and Debian's libnats-dev)
 * Run:   ./nex devrun examples/echoservice/build/echoservice --argv svc.echo
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
static volatile sig_atomic_t done = 0;
static void on_signal(int s) { (void)s; done = 1; }
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)sub; (void)closure;
    if (natsMsg_GetReply(msg) != NULL)
        natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}
int main(int argc, char **argv) {
    const char *url = getenv("NATS_URL");
    const char *subject = argc > 1 ? argv[1] : "echo";
    natsConnection *nc = NULL; natsSubscription *sub = NULL;
    if (!url) url = "nats://127.0.0.1:4222";
    printf("Echo service using NATS url '%s' on subject '%s'\n", url, subject); fflush(stdout);
    natsStatus s = natsConnection_ConnectTo(&nc, url);
    if (s == NATS_OK) s = natsConnection_Subscribe(&sub, nc, subject, on_msg, NULL);
    if (s != NATS_OK) { fprintf(stderr, "echo service failed: %s\n", natsStatus_GetText(s)); return 1; }
    signal(SIGTERM, on_signal); signal(SIGINT, on_signal);
    while (!done) pause();
    natsSubscription_Destroy(sub); natsConnection_Destroy(nc);
    return 0;
}
