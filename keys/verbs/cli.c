/*
 * `concordat keys`: generate agency, guardian and broker keys, generate the
 * subject pepper, show a key file's public identity, rotate a key. Dispatched
 * from cli/main.c.
 */
#include <stdio.h>

#include "common/cli.h"
#include "keys/verbs/keys_verbs.h"

static const char usage_text[] =
    "usage: concordat keys generate --agency ID --out DIR\n"
    "       concordat keys generate --broker --out DIR\n"
    "       concordat keys generate --guardian --agency ID --out DIR\n"
    "       concordat keys pepper --out FILE\n"
    "       concordat keys show FILE\n"
    "       concordat keys subject-ref --pepper FILE (--subject NHS |\n"
    "                                  --name SURNAME,FORENAME --dob DATE)\n"
    "       concordat keys rotate begin|promote --agency ID --keys DIR\n"
    "\n"
    "generate  writes DIR/ID.key (secret, mode 0600) and DIR/ID.pub (the\n"
    "          public identity to put in every keyring); refuses to\n"
    "          overwrite. Agency ids match [a-z][a-z0-9_]{0,31}.\n"
    "          --guardian: the agency guardian's agreement-signing key,\n"
    "          DIR/ID.guardian.key and DIR/ID.guardian.pub (keep the\n"
    "          secret offline; the .pub goes beside ID.pub in keyrings).\n"
    "pepper    writes the subject pepper shared by the agencies (0600);\n"
    "          never give it to the broker.\n"
    "show      prints the public identity of a .pub or .key file.\n"
    "subject-ref  prints the subject_ref (hex) the agents compute for a\n"
    "          person with this pepper, for local systems and\n"
    "          `audit query --subject-ref`.\n"
    "rotate    on the agency's host, where DIR holds ID.key and ID.pub:\n"
    "          begin: writes the next key, DIR/ID.next.key (0600) and\n"
    "          DIR/ID.next.pub, for every keyring as ID.next.pub;\n"
    "          promote: keeps ID.key as DIR/ID.retired-HEX.key (HEX: its\n"
    "          fingerprint without colons) and makes the next key ID.key\n"
    "          and ID.pub. Each prints the next step (docs/agent.md).\n";

static const struct cli_verb verbs[] = {
    {"generate", "write an agency's, its guardian's or the broker's keys",
        keys_verb_generate},
    {"pepper", "write the subject pepper", keys_verb_pepper},
    {"show", "print a key file's public identity", keys_verb_show},
    {"rotate", "begin or promote a key rotation", keys_verb_rotate},
    {"subject-ref", "print a person's subject_ref as agents compute it",
        keys_verb_subject_ref},
};

int
keys_verbs_usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

int
keys_cli(int argc, char **argv)
{
	return cli_group("keys", usage_text, verbs,
	    sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}
