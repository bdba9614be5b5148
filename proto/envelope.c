/* envelope: in progress */
typedef int proto_envelope_placeholder;
