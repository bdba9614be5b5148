/* record: in progress */
typedef int proto_record_placeholder;
