//! Ring-buffer records (`--watch`/`--audit`/agent): the decoder, then what each record
//! becomes: the `--watch` line, the `--audit` record, its text line and JSON.
//! Input: 8 bytes of CLOCK_REALTIME − CLOCK_BOOTTIME offset (i64, native order), then
//! one record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::Output;
use netstat_user::{
    audit::{self, Clock},
    ebpf::{Event, decode},
    names::Users,
    render::json::write_record,
    stream::audit_line,
    watch::{LineContext, format_event, state_name},
};

fuzz_target!(|data: &[u8]| {
    let Some((offset, record)) = data.split_first_chunk::<8>() else {
        return;
    };
    let clock = Clock {
        boot_to_real: i128::from(i64::from_ne_bytes(*offset)),
    };
    let mut users = Users::new();
    match decode(record) {
        Ok(Event::State(e)) => {
            let mut cx = LineContext {
                users: &mut users,
                boot_to_real: clock.boot_to_real,
            };
            let line = format_event(&e, state_name(e.newstate), &mut cx);
            assert!(
                !line.contains('\n'),
                "a --watch line with a newline: {line:?}"
            );
        }
        Ok(Event::Conn(e)) => {
            let r = audit::connection(&e, clock);
            let line = audit_line(&r, &mut users);
            assert!(
                !line.contains('\n'),
                "an --audit line with a newline: {line:?}"
            );
            let mut json = Vec::new();
            let _ = write_record(&mut json, &r);
            Output {
                code: 0,
                out: json,
                err: Vec::new(),
            }
            .assert_json_lines();
        }
        Err(_) => {}
    }
});
