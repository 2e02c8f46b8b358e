//! The one application state: built once by the process ([`crate::server`]) from its
//! configuration and handed down to the interfaces (`http/`, `workers/`). It is the services
//! ([`Services`], which it dereferences to) plus the configuration the process was started
//! with.

use std::ops::Deref;
use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::services::Services;

/// State shared by every handler and worker.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The services.
    pub services: Services,
    /// The configuration.
    pub config: Arc<Config>,
}

impl AppState {
    /// Builds the state.
    pub fn new(db: Db, config: Config) -> Self {
        AppState {
            services: Services::new(db, config.settings.clone()),
            config: Arc::new(config),
        }
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
