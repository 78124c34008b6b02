//! Snapshots of how workflow commands and file commands are read, including GitHub's error
//! texts.

use gha_exec::commands::{WorkflowCommand, parse_key_value_file};

#[test]
fn workflow_commands() {
    let lines = [
        "::error file=app.js,line=1,col=5,endColumn=7,title=Syntax::Missing semicolon",
        "::warning::100%25 sure%0Anext line",
        "  ::notice title=a%3Ab%2Cc::indented",
        "::set-output name=result::{\"json\": true}",
        "::group::Build",
        "::endgroup::",
        "::add-mask::s3cr3t",
        "::stop-commands::tok-1",
        "::debug::",
        "::unknown-command::kept as text",
        "::error missing second separator",
        "not a command ::error::x",
        "::error k=,=v,novalue,x=1::props",
    ];
    let mut out = String::new();
    for l in lines {
        out.push_str(&format!("{l}\n  => {:?}\n", WorkflowCommand::parse(l)));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn file_commands() {
    let inputs = [
        "A=1\nB=two=2\n",
        "M<<EOF\nline 1\n\nline 3\nEOF\nN=after\n",
        "M<<EOF\nno end\n",
        "=value\n",
        "<<EOF\nx\nEOF\n",
        "NAME<<\n",
        "no separator\n",
        "A=x<<y\n",
        "H<<END\r\nwindows\r\nEND\r\n",
    ];
    let mut out = String::new();
    for i in inputs {
        let r = match parse_key_value_file(i) {
            Ok(pairs) => format!("{pairs:?}"),
            Err(e) => e.report("env").join(" / "),
        };
        out.push_str(&format!("{i:?}\n  => {r}\n"));
    }
    insta::assert_snapshot!(out);
}
